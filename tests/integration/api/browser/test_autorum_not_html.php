<?php
/*DESCRIPTION
A JSON response is never touched, even when its text contains tags, and
neither is an HTML response whose length the script declared.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*EXPECT
{"html":"<html><head></head><body></body></html>"}
*/

header('Content-Type: application/json');
echo json_encode(array('html' => '<html><head></head><body></body></html>'), JSON_UNESCAPED_SLASHES), "\n";
