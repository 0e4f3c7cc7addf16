<?php
/*
Plugin Name: Seraph test plugin
Description: Hooks a few WordPress hooks so their timing shows up per hook and per plugin.
Version: 1.0
*/

add_action('init', function () {
    // Slow enough to show in any hook threshold.
    usleep(3000);
});

add_filter('the_content', 'seraph_test_plugin_content');

function seraph_test_plugin_content($content) {
    usleep(1000);
    return $content . '<p>seraph-test-plugin was here</p>';
}

add_action('wp_ajax_nopriv_seraph_ping', 'seraph_test_plugin_ping');
add_action('wp_ajax_seraph_ping', 'seraph_test_plugin_ping');

function seraph_test_plugin_ping() {
    echo 'pong';
    wp_die();
}
