<?php

use App\Http\Controllers\PostController;
use App\Jobs\ProcessOrder;
use Illuminate\Support\Facades\Log;
use Illuminate\Support\Facades\Route;

Route::get('/', function () {
    return 'home';
});

Route::get('/hello/{name}', function ($name) {
    Log::info('greeting', ['name' => $name]);
    return "hello $name";
});

Route::get('/posts', [PostController::class, 'index'])->name('posts.index');
Route::get('/posts/{id}', [PostController::class, 'show']);
Route::get('/boom', [PostController::class, 'fail']);

Route::get('/dispatch', function () {
    ProcessOrder::dispatch(666);
    return 'queued';
});
