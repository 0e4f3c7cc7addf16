<?php

require_once 'Slim/autoload.php';

use Psr\Http\Message\ResponseInterface as Response;
use Psr\Http\Message\ServerRequestInterface as Request;

$app = new Slim\App(['settings' => ['displayErrorDetails' => false]]);

$app->get('/', function (Request $req, Response $res) {
    return $res->write('home');
});

$app->get('/hello/{name}', function (Request $req, Response $res, array $args) {
    return $res->write('hello ' . $args['name']);
})->setName('hello');

$app->get('/items/{id}', function (Request $req, Response $res, array $args) {
    usleep(2000);
    return $res->withJson(['id' => (int) $args['id']]);
});

$app->get('/broken', function (Request $req, Response $res) {
    throw new RuntimeException('the item store is unavailable');
});

$app->run();
