<?php
/* Callbacks of WordPress core: timed only with hooks.options=all_callbacks. */
function mock_core_init() {
    usleep(20000);
}
add_action('init', 'mock_core_init');
