<?php
/*
 * Run by the runner's /cat endpoint: prints the traceparent header the
 * request carried and its X-Test header ("none" for a missing one),
 * separated by "|", so a test can tie a request to the span the agent
 * says made it and check the caller's own header survived.
 */
echo isset($_SERVER['HTTP_TRACEPARENT']) ? $_SERVER['HTTP_TRACEPARENT'] : 'none';
echo '|';
echo isset($_SERVER['HTTP_X_TEST']) ? $_SERVER['HTTP_X_TEST'] : 'none';
