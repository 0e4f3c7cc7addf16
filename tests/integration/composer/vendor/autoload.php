<?php
/* A Composer autoloader stand-in: Composer's runtime files sit beside it
 * in vendor/composer/, which is what the agents look for. */
require_once __DIR__ . '/composer/autoload_real.php';
