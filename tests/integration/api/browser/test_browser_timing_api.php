<?php
/*DESCRIPTION
newrelic_get_browser_timing_header() returns the connect reply's loader,
in a script element unless false is passed, once per transaction;
newrelic_get_browser_timing_footer() returns NREUM.info with the beacons,
the browser key, the application id, the queue and application times and
the transaction name obfuscated with the license key, only after the
header and once. Called before the header the footer is empty. Both are
counted on every call.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*EXPECT
ok - footer before header is empty
ok - header with tags
ok - second header is empty
ok - footer without tags
ok - footer fields
ok - transaction name
ok - second footer is empty
*/

/*EXPECT_METRICS_EXIST
Supportability/api/get_browser_timing_header, 2
Supportability/api/get_browser_timing_footer, 3
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

function deobfuscate($s)
{
    $key = substr(ini_get('newrelic.license'), 0, 13);
    $raw = base64_decode($s);
    $out = '';
    for ($i = 0; $i < strlen($raw); $i++) {
        $out .= chr(ord($raw[$i]) ^ ord($key[$i % strlen($key)]));
    }
    return $out;
}

ob_start();
tap_identical('', newrelic_get_browser_timing_footer(), 'footer before header is empty');
$h = newrelic_get_browser_timing_header();
tap_identical(
    '<script type="text/javascript">window.NREUM||(NREUM={});NREUM.init={seraph:1};</script>',
    $h,
    'header with tags'
);
tap_identical('', newrelic_get_browser_timing_header(), 'second header is empty');
$f = newrelic_get_browser_timing_footer(false);
$prefix = 'window.NREUM||(NREUM={});NREUM.info=';
tap_identical(0, strpos($f, $prefix), 'footer without tags');
$info = json_decode(substr($f, strlen($prefix)), true);
tap_assert(
    $info['beacon'] === 'bam.nr-data.net'
        && $info['errorBeacon'] === 'bam.nr-data.net'
        && $info['licenseKey'] === '8a8d3f58d9'
        && $info['applicationID'] === getenv('APP_supportability')
        && $info['agent'] === 'js-agent.newrelic.com/nr-1234.min.js'
        && is_int($info['queueTime']) && is_int($info['applicationTime'])
        && is_string($info['atts']),
    'footer fields'
);
tap_assert(
    preg_match('#^WebTransaction/Uri/.*test_browser_timing_api\.php$#', deobfuscate($info['transactionName'])) === 1,
    'transaction name'
);
tap_identical('', newrelic_get_browser_timing_footer(), 'second footer is empty');
ob_end_flush();
