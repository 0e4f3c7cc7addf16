<?php
/* A plugin: its callbacks are timed per hook and per plugin. */
class Mock_Plugin {
    public function on_init() {
        usleep(20000);
    }
    public static function filter_content($content) {
        return strtoupper($content);
    }
}
add_action('init', [new Mock_Plugin(), 'on_init']);
add_filter('the_content', 'Mock_Plugin::filter_content');
add_filter('the_content', function ($c) { return $c . '!'; });
