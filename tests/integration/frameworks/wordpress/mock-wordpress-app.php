<?php
/* Loads the mock WordPress in the order WordPress does, then serves a
 * page: hooks fire and the template filter names the transaction. */
require_once __DIR__ . '/wp-config.php';
require_once __DIR__ . '/wp-includes/version.php';
require_once __DIR__ . '/wp-includes/plugin.php';
require_once __DIR__ . '/wp-includes/core-callbacks.php';
require_once __DIR__ . '/wp-content/plugins/mock-plugin/mock-plugin.php';
require_once __DIR__ . '/wp-content/themes/mock-theme/functions.php';

do_action('init');
echo apply_filters('the_title', 'Hello'), "\n";
echo apply_filters('the_content', 'body'), "\n";
$template = apply_filters('template_include', __DIR__ . '/wp-content/themes/mock-theme/single.php');
echo basename($template), "\n";
