<?php
/*DESCRIPTION
With distributed tracing off, curl requests carry no tracing headers and
no DurationByCaller or TraceContext metrics are recorded; the External
metrics remain.
*/

/*SKIPIF
<?php
if (!extension_loaded('curl')) {
    die("skip: curl not available\n");
}
*/

/*INI
newrelic.distributed_tracing_enabled = 0
*/

/*EXPECT
traceparent=missing tracestate=missing newrelic=missing tracing endpoint reached
*/

/*EXPECT_METRICS_EXIST
External/all, 1
External/allOther, 1
External/127.0.0.1/all, 1
*/

/*EXPECT_METRICS_DONT_EXIST
DurationByCaller/Unknown/Unknown/Unknown/Unknown/all
Supportability/TraceContext/Create/Success
Supportability/DistributedTrace/CreatePayload/Success
*/

require_once(realpath(dirname(__FILE__)) . '/../include/config.php');

$url = "http://" . make_tracing_url(realpath(dirname(__FILE__)) . '/../include/tracing_endpoint.php');
$ch = curl_init($url);
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
echo curl_exec($ch);
unset($ch); // curl_close() does nothing since PHP 8.0 and is deprecated in 8.5
