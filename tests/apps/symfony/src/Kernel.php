<?php

namespace App;

use Symfony\Bundle\FrameworkBundle\FrameworkBundle;
use Symfony\Bundle\FrameworkBundle\Kernel\MicroKernelTrait;
use Symfony\Component\DependencyInjection\Loader\Configurator\ContainerConfigurator;
use Symfony\Component\HttpKernel\Kernel as BaseKernel;
use Symfony\Component\Routing\Loader\Configurator\RoutingConfigurator;

class Kernel extends BaseKernel
{
    use MicroKernelTrait;

    public function registerBundles(): iterable
    {
        yield new FrameworkBundle();
    }

    public function getProjectDir(): string
    {
        return \dirname(__DIR__);
    }

    protected function configureContainer(ContainerConfigurator $container): void
    {
        $container->extension('framework', [
            'secret' => 'seraph-test',
            'http_method_override' => false,
            'router' => ['utf8' => true],
        ]);
        $services = $container->services()->defaults()->autowire()->autoconfigure();
        $services->load('App\\Controller\\', __DIR__ . '/Controller/')
            ->tag('controller.service_arguments');
        $services->load('App\\Command\\', __DIR__ . '/Command/');
    }

    protected function configureRoutes(RoutingConfigurator $routes): void
    {
        $routes->add('blog_index', '/blog')
            ->controller([Controller\BlogController::class, 'index']);
        $routes->add('blog_show', '/blog/{slug}')
            ->controller([Controller\BlogController::class, 'show']);
        $routes->add('health_check', '/health')
            ->controller([Controller\HealthController::class, 'check']);
        $routes->add('health_fail', '/health/fail')
            ->controller([Controller\HealthController::class, 'fail']);
    }
}
