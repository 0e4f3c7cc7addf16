<?php

namespace App\Controller;

use Symfony\Component\HttpFoundation\Response;

class HealthController
{
    public function check(): Response
    {
        return new Response('ok');
    }

    public function fail(): Response
    {
        throw new \LogicException('the health check failed');
    }
}
