<?php

namespace App\Http\Controllers;

use Illuminate\Support\Facades\Log;

class PostController extends Controller
{
    public function index()
    {
        usleep(2000);
        return response()->json(['posts' => [1, 2, 3]]);
    }

    public function show($id)
    {
        Log::warning('post viewed', ['post_id' => (int) $id, 'source' => 'test']);
        return response()->json(['id' => (int) $id]);
    }

    public function fail()
    {
        throw new \RuntimeException('the post store is unavailable');
    }
}
