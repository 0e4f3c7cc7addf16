<?php
/*DESCRIPTION
Browser monitoring gets no attributes unless its attributes are switched
on; then the footer's "atts" carries the user attributes its rules let
through, obfuscated with the license key like the other footer values.
*/

/*INI
newrelic.browser_monitoring.attributes.enabled = 1
newrelic.browser_monitoring.attributes.exclude = secret
*/

/*EXPECT
ok - header
ok - atts
*/

require_once(realpath(dirname(__FILE__)) . '/../include/tap.php');

function deobfuscate($text)
{
    $key = substr(ini_get('newrelic.license'), 0, 13);
    $raw = base64_decode($text);
    $out = '';
    for ($i = 0; $i < strlen($raw); $i++) {
        $out .= chr(ord($raw[$i]) ^ ord($key[$i % strlen($key)]));
    }
    return $out;
}

tap_assert(strlen(newrelic_get_browser_timing_header(false)) > 0, 'header');
newrelic_add_custom_parameter('hat', 'who');
newrelic_add_custom_parameter('secret', 'hidden');
$footer = newrelic_get_browser_timing_footer(false);
$info = json_decode(substr($footer, strpos($footer, 'NREUM.info=') + 11), true);
tap_equal('{"u":{"hat":"who"}}', deobfuscate($info['atts']), 'atts');
