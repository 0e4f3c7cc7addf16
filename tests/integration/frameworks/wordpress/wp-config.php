<?php
/* A stand-in for WordPress's configuration file: its name is what
 * New Relic's agent (and Seraph) detect WordPress by. */
define('WP_CONTENT_DIR', __DIR__ . '/wp-content');
