<?php
/* A theme's functions file: its callbacks count as the theme's. */
function mock_theme_title($title) {
    return "[$title]";
}
add_filter('the_title', 'mock_theme_title');
