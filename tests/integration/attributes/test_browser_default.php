<?php
/*DESCRIPTION
By default browser monitoring gets no attributes: the footer's "atts"
holds an empty user object even with user attributes on the transaction
(New Relic's agent prints an object for each non-empty list, whatever
reaches this destination).
*/

/*EXPECT
ok - header
ok - empty atts
*/

require_once(realpath(dirname(__FILE__)) . '/../include/tap.php');

tap_assert(strlen(newrelic_get_browser_timing_header(false)) > 0, 'header');
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

newrelic_add_custom_parameter('hat', 'who');
$footer = newrelic_get_browser_timing_footer(false);
$info = json_decode(substr($footer, strpos($footer, 'NREUM.info=') + 11), true);
tap_identical('{"u":{}}', deobfuscate($info['atts']), 'empty atts');
