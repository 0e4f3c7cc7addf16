<?php
/*
 * Settings the runner hands to every test through the environment.
 */

$EXTERNAL_HOST = getenv('EXTERNAL_HOST');
$EXTERNAL_TRACING_URL = $EXTERNAL_HOST . "/cat";

/* The URL of the runner's /cat endpoint running $file as a web request. */
function make_tracing_url($file)
{
    global $EXTERNAL_TRACING_URL;
    $dt = ini_get("newrelic.distributed_tracing_enabled") ? "true" : "false";
    $cat = ini_get("newrelic.cross_application_tracer.enabled") ? "true" : "false";
    return $EXTERNAL_TRACING_URL . '?file=' . $file . '&dt_enabled=' . $dt . '&cat_enabled=' . $cat;
}

/* Distributed tracing header names. */
define('DT_NEWRELIC', 'newrelic');
define('DT_TRACEPARENT', 'traceparent');
define('DT_TRACESTATE', 'tracestate');

/*
 * The real servers, as the runner's --services option or the test harness
 * (seraph_e2e::services) pass them. Each library's include file asks for
 * the ones it needs with require_servers(), so a test run without them
 * stops with a message and fails.
 */
function required_env($name)
{
    $value = getenv($name);
    if (false === $value) {
        echo "missing environment variable $name: start the servers (integration-runner --services)\n";
        exit(1);
    }
    return $value;
}

/* Defines the globals of the named servers: 'mysql', 'pgsql', 'redis',
 * 'memcache', 'rabbitmq'. */
function require_servers(...$names)
{
    foreach ($names as $name) {
        switch ($name) {
        case 'mysql':
            $GLOBALS['MYSQL_HOST']   = required_env('MYSQL_HOST');
            $GLOBALS['MYSQL_PORT']   = (int)required_env('MYSQL_PORT');
            $GLOBALS['MYSQL_USER']   = required_env('MYSQL_USER');
            $GLOBALS['MYSQL_PASSWD'] = required_env('MYSQL_PASSWD');
            $GLOBALS['MYSQL_DB']     = required_env('MYSQL_DB');
            $GLOBALS['MYSQL_SOCKET'] = getenv('MYSQL_SOCKET') ?: '';
            $GLOBALS['SERAPH_MYSQL_SOCKET'] = required_env('SERAPH_MYSQL_SOCKET');
            break;
        case 'pgsql':
            $GLOBALS['PG_HOST'] = required_env('PG_HOST');
            $GLOBALS['PG_PORT'] = required_env('PG_PORT');
            $GLOBALS['PG_USER'] = required_env('PG_USER');
            $GLOBALS['PG_PW']   = required_env('PG_PW');
            $GLOBALS['PG_CONNECTION'] = sprintf('host=%s port=%s user=%s password=%s connect_timeout=5',
                $GLOBALS['PG_HOST'], $GLOBALS['PG_PORT'], $GLOBALS['PG_USER'], $GLOBALS['PG_PW']);
            break;
        case 'redis':
            $GLOBALS['REDIS_HOST'] = required_env('REDIS_HOST');
            $GLOBALS['REDIS_PORT'] = (int)required_env('REDIS_PORT');
            break;
        case 'memcache':
            $GLOBALS['MEMCACHE_HOST'] = required_env('MEMCACHE_HOST');
            $GLOBALS['MEMCACHE_PORT'] = (int)required_env('MEMCACHE_PORT');
            break;
        case 'rabbitmq':
            $GLOBALS['RABBITMQ_HOST']     = required_env('RABBITMQ_HOST');
            $GLOBALS['RABBITMQ_PORT']     = (int)required_env('RABBITMQ_PORT');
            $GLOBALS['RABBITMQ_USER']     = required_env('RABBITMQ_USER');
            $GLOBALS['RABBITMQ_PASSWORD'] = required_env('RABBITMQ_PASSWORD');
            break;
        default:
            echo "require_servers: unknown server $name\n";
            exit(1);
        }
    }
}
