<?php
/*
 * Run by the runner's /cat endpoint: reports which distributed tracing
 * headers the request carried, so the calling test can check that the
 * agent added them to its outbound request.
 */

require_once(realpath(dirname(__FILE__)) . '/config.php');

$found = array();
foreach ($_SERVER as $key => $value) {
    $found[strtolower(str_replace('_', '-', preg_replace('/^HTTP_/', '', $key)))] = $value;
}

foreach (array(DT_TRACEPARENT, DT_TRACESTATE, DT_NEWRELIC) as $header) {
    if (array_key_exists($header, $found)) {
        if (strpos($found[$header], ",") !== false) {
            echo $header . "=dup ";
        } else {
            echo $header . "=found ";
        }
    } else {
        echo $header . "=missing ";
    }
}

echo "tracing endpoint reached\n";
