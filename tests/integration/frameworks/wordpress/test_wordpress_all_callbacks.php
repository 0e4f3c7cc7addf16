<?php
/*DESCRIPTION
hooks.options=all_callbacks: WordPress core's callbacks are timed too, as
hook metrics without a plugin.
*/

/*INI
newrelic.framework.wordpress.hooks.options = all_callbacks
*/

/*EXPECT
[Hello]
BODY!
single.php
*/

/*EXPECT_METRICS_EXIST
Framework/WordPress/Hook/init, 2
Framework/WordPress/Plugin/mock-plugin, 3
*/

require_once __DIR__ . '/mock-wordpress-app.php';
