//! The configuration files of a stack: php-fpm's pool and nginx's server,
//! both pointing at files inside the stack's directory only.

use crate::{Options, RunAs};
use std::path::Path;

/// Whether this process runs as root (servers then need to be told).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// php-fpm's configuration: one pool of `workers` static children on the
/// socket `sock`, readable by any user (nginx's workers may run as
/// `nobody`).
pub fn fpm(o: &Options, dir: &Path, sock: &Path) -> String {
    let mut c = format!(
        "[global]\nerror_log = {log}\ndaemonize = no\n\n[www]\nlisten = {sock}\n\
         listen.mode = 0666\npm = static\npm.max_children = {workers}\npm.max_requests = 0\n\
         catch_workers_output = yes\n",
        log = dir.join("fpm-error.log").display(),
        sock = sock.display(),
        workers = o.workers,
    );
    match o.run_as {
        RunAs::WwwData => c.push_str("user = www-data\ngroup = www-data\n"),
        RunAs::Invoker if is_root() => c.push_str("user = root\ngroup = root\n"),
        RunAs::Invoker => {}
    }
    if !o.clear_env {
        c.push_str("clear_env = no\n");
    }
    for (k, v) in &o.env {
        c.push_str(&format!("env[{k}] = \"{v}\"\n"));
    }
    c
}

/// nginx's configuration: one server on `127.0.0.1:port` serving `root`,
/// PHP files (with a path info) through php-fpm on `sock`, other requests
/// to the front controller if there is one. Under load, connections stay
/// open (the load generator reuses them) and nothing is logged per request.
pub fn nginx(o: &Options, dir: &Path, root: &Path, sock: &Path, port: u16) -> String {
    let front = match &o.front_controller {
        Some(f) => format!("try_files $uri $uri/ {f}?$query_string;"),
        None => "try_files $uri $uri/ =404;".to_owned(),
    };
    // As root, nginx's workers would run as `nobody`, which cannot read a
    // document root in root's temporary directories.
    let user = if o.run_as == RunAs::Invoker && is_root() {
        "user root;\n"
    } else {
        ""
    };
    let d = dir.display();
    let (connections, per_request) = if o.load {
        (
            1024,
            "access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 300s;".to_owned(),
        )
    } else {
        (64, format!("access_log {d}/nginx-access.log;"))
    };
    format!(
        "{user}daemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/nginx-error.log;\nevents {{ worker_connections {connections}; }}\n\
         http {{\n  include /etc/nginx/mime.types;\n  {per_request}\n\
           client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
           fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n\
           scgi_temp_path {d}/tmp/scgi;\n\
           server {{\n    listen 127.0.0.1:{port};\n    server_name localhost;\n\
             root {root};\n    index index.php;\n\
             location / {{ {front} }}\n\
             location ~ [^/]\\.php(/|$) {{\n\
               fastcgi_split_path_info ^(.+?\\.php)(/.*)$;\n\
               if (!-f $document_root$fastcgi_script_name) {{ return 404; }}\n\
               include /etc/nginx/fastcgi_params;\n\
               fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\
               fastcgi_param PATH_INFO $fastcgi_path_info;\n\
               fastcgi_pass unix:{sock};\n    }}\n  }}\n}}\n",
        root = root.display(),
        sock = sock.display(),
    )
}

/// The temporary directories nginx needs (it creates them as root only).
pub const NGINX_TEMP_DIRS: [&str; 5] = ["body", "proxy", "fastcgi", "uwsgi", "scgi"];
