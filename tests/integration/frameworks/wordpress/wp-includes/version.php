<?php
/**
 * The WordPress version string.
 *
 * @global string $wp_version
 */
$wp_version = '6.1.9';
