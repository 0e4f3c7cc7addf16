<?php
/*DESCRIPTION
WordPress, detected by wp-config.php, with the default
hooks.options=plugin_callbacks: the template names the transaction
(Action/single), the callbacks of the plugin and of the theme are timed
per hook and per plugin, the core's are not; the version read from
wp-includes/version.php is reported as the wordpress package.
*/

/*EXPECT
[Hello]
BODY!
single.php
*/

/*EXPECT_METRICS_EXIST
Supportability/framework/WordPress/detected, 1
OtherTransaction/Action/single, 1
Framework/WordPress/Hook/init, 1
Framework/WordPress/Hook/the_content, 2
Framework/WordPress/Hook/the_title, 1
Framework/WordPress/Plugin/mock-plugin, 3
Framework/WordPress/Plugin/mock-theme, 1
Supportability/InstrumentedFunction/apply_filters, 3
Supportability/InstrumentedFunction/do_action, 1
Supportability/InstrumentedFunction/add_filter, 5
Supportability/PHP/package/wordpress/6/detected, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Framework/WordPress/Hook/template_include
OtherTransaction/php__FILE__
*/

/*EXPECT_PHP_PACKAGES
command=echo WordPress version: 6.1.9
expected_packages=wordpress
*/

require_once __DIR__ . '/mock-wordpress-app.php';
