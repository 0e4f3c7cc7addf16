<?php
/*DESCRIPTION
Drupal 8+, detected by core/includes/bootstrap.inc: the request is named
after the controller the resolver returns (an object's method as
Class->method); a title callback resolved before it does not count.
*/

/*EXPECT
Title node
*/

/*EXPECT_METRICS_EXIST
Supportability/framework/Drupal8/detected, 1
OtherTransaction/Action/Drupal\node\Controller\NodeViewController->view, 1
*/

/*EXPECT_METRICS_DONT_EXIST
OtherTransaction/Action/mock_title_callback
*/

require_once __DIR__ . '/mock-drupal.php';

$resolver = new Drupal\Core\Controller\ControllerResolver();
$title = (new Drupal\Core\Controller\TitleResolver())->getTitle($resolver);
$controller = $resolver->getControllerFromDefinition([new Drupal\node\Controller\NodeViewController(), 'view']);
echo $title, ' ', $controller(), "\n";
