//! The server harness (`seraph_e2e::services`): every server starts and
//! answers a real PHP client, and nothing it started outlives the test
//! binary, whether the binary exits normally or is killed.

use seraph_e2e::services;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs PHP code with the machine's php.ini (which loads mysqli, pgsql,
/// redis, memcached) and the servers' variables; returns its output.
fn php(code: &str, env: &[(String, String)]) -> String {
    let out = Command::new("php")
        .args(["-d", "display_errors=stderr", "-r", code])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run php");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "php failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn mariadb_answers_over_tcp_and_its_socket() {
    let db = services::mariadb();
    db.sql(
        "CREATE TABLE IF NOT EXISTS seraph.harness (n INT); INSERT INTO seraph.harness VALUES (7)",
    )
    .unwrap();
    let out = php(
        r#"$m = new mysqli(getenv('MYSQL_HOST'), getenv('MYSQL_USER'), getenv('MYSQL_PASSWD'), getenv('MYSQL_DB'), (int)getenv('MYSQL_PORT'));
           echo $m->query('SELECT max(n) FROM harness')->fetch_row()[0], "\n";
           $s = new mysqli('localhost', getenv('MYSQL_USER'), getenv('MYSQL_PASSWD'), getenv('MYSQL_DB'), 0, getenv('SERAPH_MYSQL_SOCKET'));
           echo $s->host_info, "\n";"#,
        &db.env(),
    );
    assert_eq!(out, "7\nLocalhost via UNIX socket\n");
}

#[test]
fn postgres_answers() {
    let pg = services::postgres();
    let out = php(
        r#"$c = pg_connect(sprintf('host=%s port=%s user=%s password=%s', getenv('PG_HOST'), getenv('PG_PORT'), getenv('PG_USER'), getenv('PG_PW')));
           echo pg_fetch_row(pg_query($c, 'SELECT 40 + 2'))[0], "\n";"#,
        &pg.env(),
    );
    assert_eq!(out, "42\n");
}

#[test]
fn redis_and_memcached_answer() {
    let mut env = services::redis().env();
    env.extend(services::memcached().env());
    let out = php(
        r#"$r = new Redis(); $r->connect(getenv('REDIS_HOST'), (int)getenv('REDIS_PORT'));
           $r->set('harness', 'r'); echo $r->get('harness'), "\n";
           $m = new Memcached(); $m->addServer(getenv('MEMCACHE_HOST'), (int)getenv('MEMCACHE_PORT'));
           $m->set('harness', 'm'); echo $m->get('harness'), "\n";"#,
        &env,
    );
    assert_eq!(out, "r\nm\n");
}

#[test]
fn rabbitmq_answers_php_amqplib() {
    let mq = services::rabbitmq();
    let out = php(
        r#"require '/usr/share/php/PhpAmqpLib/autoload.php';
           $c = new PhpAmqpLib\Connection\AMQPStreamConnection(getenv('RABBITMQ_HOST'), (int)getenv('RABBITMQ_PORT'), getenv('RABBITMQ_USER'), getenv('RABBITMQ_PASSWORD'));
           $ch = $c->channel(); $ch->queue_declare('harness', false, false, false, true);
           $ch->basic_publish(new PhpAmqpLib\Message\AMQPMessage('hello'), '', 'harness');
           echo $ch->basic_get('harness', true)->body, "\n"; $ch->close(); $c->close();"#,
        &mq.env(),
    );
    assert_eq!(out, "hello\n");
}

/// Set in the environment of a child copy of this binary: start Redis and
/// memcached, print their pids, then exit normally or wait to be killed.
const HELPER: &str = "SERAPH_SERVICES_HELPER";

#[test]
fn helper_start_and_report() {
    let Ok(mode) = std::env::var(HELPER) else {
        return; // Only meaningful as the child of the tests below.
    };
    services::redis();
    services::memcached();
    for (name, pid) in services::process::running() {
        println!("PID {name} {pid}");
    }
    if mode == "wait" {
        println!("READY");
        std::thread::sleep(Duration::from_secs(300));
    }
}

/// Runs the helper; returns the server pids it printed.
fn helper_pids(mode: &str) -> (std::process::Child, Vec<u32>) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_start_and_report",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER, mode)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run the helper");
    let mut pids = Vec::new();
    let reader = BufReader::new(child.stdout.take().unwrap());
    for line in reader.lines() {
        let line = line.unwrap();
        // libtest prints "test <name> ... " without a newline first.
        if let Some(at) = line.find("PID ") {
            pids.push(line[at..].rsplit(' ').next().unwrap().parse().unwrap());
        }
        if line.ends_with("READY") {
            break;
        }
    }
    if pids.len() != 2 {
        let _ = child.kill();
        panic!("the helper did not report two servers: {pids:?}");
    }
    (child, pids)
}

fn gone_within(pids: &[u32], limit: Duration) {
    let deadline = Instant::now() + limit;
    for pid in pids {
        // A reaped process leaves no /proc entry; a zombie would mean our
        // harness did not wait for it (its parent is gone, so init reaps).
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(Instant::now() < deadline, "server {pid} is still running");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn servers_stop_when_the_test_binary_exits() {
    let (mut child, pids) = helper_pids("exit");
    assert!(child.wait().unwrap().success());
    gone_within(&pids, Duration::from_secs(30));
}

#[test]
fn servers_die_when_the_test_binary_is_killed() {
    let (mut child, pids) = helper_pids("wait");
    child.kill().unwrap();
    child.wait().unwrap();
    gone_within(&pids, Duration::from_secs(30));
}
