<?php
/*DESCRIPTION
The browser timing functions take one optional flag, read as a boolean:
an array is a TypeError (New Relic's agent still produces the header, so
the next call returns nothing), an integer 2 means "with tags". Outside a
web page (a command-line transaction) the scripts are still produced by
the API. newrelic_disable_autorum() returns true.
*/

/*EXPECT
ok - array is a TypeError
ok - header already produced
ok - disable_autorum returns true
ok - footer with integer 2 has tags
*/

/*EXPECT_METRICS_EXIST
Supportability/api/get_browser_timing_header, 2
Supportability/api/get_browser_timing_footer, 1
Supportability/api/disable_autorum, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

try {
    newrelic_get_browser_timing_header(array());
    tap_not_ok('array is a TypeError');
} catch (TypeError $e) {
    tap_ok('array is a TypeError');
}
tap_identical('', newrelic_get_browser_timing_header(false), 'header already produced');
tap_identical(true, newrelic_disable_autorum(), 'disable_autorum returns true');
tap_identical(0, strpos(newrelic_get_browser_timing_footer(2), '<script'), 'footer with integer 2 has tags');
