<?php
/*DESCRIPTION
Automatic browser monitoring: an HTML page gets the loader right after
its charset meta tag and the NREUM.info footer right before </body>,
each exactly once.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*EXPECT_REGEX
^<!DOCTYPE html>\s*<html><head><meta charset="utf-8"><script type="text/javascript">window\.NREUM\|\|\(NREUM=\{\}\);NREUM\.init=\{seraph:1\};</script><title>t</title></head>\s*<body><p>hello</p><script type="text/javascript">window\.NREUM\|\|\(NREUM=\{\}\);NREUM\.info=\{"beacon":"bam\.nr-data\.net",[^<]*\}</script></body></html>\s*$
*/

/*EXPECT_METRICS_EXIST
WebTransaction, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Supportability/api/get_browser_timing_header
*/
?>
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>t</title></head>
<body><p>hello</p></body></html>
