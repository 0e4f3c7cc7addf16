<?php
/*DESCRIPTION
newrelic_notice_error() with arguments it cannot use returns null and
records nothing: a resource, a non-exception second argument, three or
six arguments, and error-handler forms with values of the wrong type.
*/

/*EXPECT
ok - resource
ok - integer second argument
ok - array second argument
ok - three arguments
ok - four arguments, string level
ok - four arguments, array message
ok - four arguments, array file
ok - four arguments, string line
ok - six arguments
*/

/*EXPECT_TRACED_ERRORS null */

/*EXPECT_ERROR_EVENTS null */

/*EXPECT_METRICS_EXIST
Supportability/api/notice_error, 9
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(null, newrelic_notice_error(fopen('php://memory', 'r')), 'resource');
tap_identical(null, newrelic_notice_error('', 42), 'integer second argument');
tap_identical(null, newrelic_notice_error('', array()), 'array second argument');
tap_identical(null, newrelic_notice_error(42, 'message', 'file'), 'three arguments');
tap_identical(null, newrelic_notice_error('', 'message', 'file', __LINE__), 'four arguments, string level');
tap_identical(null, newrelic_notice_error(42, array(), 'file', __LINE__), 'four arguments, array message');
tap_identical(null, newrelic_notice_error(42, 'message', array(), __LINE__), 'four arguments, array file');
tap_identical(null, newrelic_notice_error(42, 'message', 'file', ''), 'four arguments, string line');
tap_identical(null, newrelic_notice_error(42, 'message', 'file', __LINE__, null, null), 'six arguments');
