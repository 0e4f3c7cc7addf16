<?php
/*DESCRIPTION
newrelic_get_linking_metadata() names the entity (the application, type
SERVICE, the entity guid from the connect reply), the host, and the
current trace and span; newrelic_get_trace_metadata() gives the same trace
and span ids. Each call counts in its Supportability/api metric.
*/

/*EXPECT
ok - linking metadata keys
ok - entity name is the application
ok - entity type
ok - entity guid present
ok - hostname
ok - trace ids agree
ok - span ids agree
*/

/*EXPECT_METRICS_EXIST
Supportability/api/get_linking_metadata, 1
Supportability/api/get_trace_metadata, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

$linking = newrelic_get_linking_metadata();
$trace = newrelic_get_trace_metadata();

$keys = array_keys($linking);
sort($keys);
tap_equal(array('entity.guid', 'entity.name', 'entity.type', 'hostname', 'span.id', 'trace.id'), $keys, 'linking metadata keys');
tap_equal(ini_get('newrelic.appname'), $linking['entity.name'], 'entity name is the application');
tap_equal('SERVICE', $linking['entity.type'], 'entity type');
tap_assert(is_string($linking['entity.guid']) && $linking['entity.guid'] !== '', 'entity guid present');
tap_equal(gethostname(), $linking['hostname'], 'hostname');
tap_equal($trace['trace_id'], $linking['trace.id'], 'trace ids agree');
tap_equal($trace['span_id'], $linking['span.id'], 'span ids agree');
