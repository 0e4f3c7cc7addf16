<?php

namespace App\Controller;

use Symfony\Component\HttpFoundation\JsonResponse;

class BlogController
{
    public function index(): JsonResponse
    {
        return new JsonResponse(['posts' => ['hello-world']]);
    }

    public function show(string $slug): JsonResponse
    {
        usleep(2000);
        return new JsonResponse(['slug' => $slug]);
    }
}
