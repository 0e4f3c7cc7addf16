<?php
/*DESCRIPTION
A page the page cache answers is named page_cache; a miss names nothing.
*/

/*EXPECT
hit
*/

/*EXPECT_METRICS_EXIST
OtherTransaction/Action/page_cache, 1
*/

require_once __DIR__ . '/mock-drupal.php';

$cache = new Drupal\page_cache\StackMiddleware\PageCache();
$cache->get(false);
echo $cache->get(true) ? "hit\n" : "miss\n";
