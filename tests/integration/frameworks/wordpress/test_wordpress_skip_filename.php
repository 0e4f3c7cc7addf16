<?php
/*DESCRIPTION
hooks_skip_filename: callbacks declared in a file whose path contains the
value are not timed.
*/

/*INI
newrelic.framework.wordpress.hooks_skip_filename = mock-plugin
*/

/*EXPECT
[Hello]
BODY!
single.php
*/

/*EXPECT_METRICS_EXIST
Framework/WordPress/Plugin/mock-theme, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Framework/WordPress/Plugin/mock-plugin
Framework/WordPress/Hook/init
*/

require_once __DIR__ . '/mock-wordpress-app.php';
