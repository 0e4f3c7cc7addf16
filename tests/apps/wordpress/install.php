<?php
/* Installs the test site from the command line: tables, the admin user,
 * the sample content, pretty permalinks, the test plugin activated. */
$_SERVER['HTTP_HOST'] = 'localhost';
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', true);
require __DIR__ . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

if (!is_blog_installed()) {
    $r = wp_install('Seraph test site', 'admin', 'admin@example.com', true, '', 'seraph-password');
    if (is_wp_error($r)) {
        fwrite(STDERR, $r->get_error_message() . "\n");
        exit(1);
    }
}
update_option('permalink_structure', '/%postname%/');
$active = activate_plugin('seraph-test-plugin/seraph-test-plugin.php');
if (is_wp_error($active)) {
    fwrite(STDERR, $active->get_error_message() . "\n");
    exit(1);
}
echo "installed\n";
