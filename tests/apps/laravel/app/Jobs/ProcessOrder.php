<?php

namespace App\Jobs;

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\SerializesModels;
use Illuminate\Support\Facades\Log;

class ProcessOrder implements ShouldQueue
{
    use Dispatchable, InteractsWithQueue, Queueable, SerializesModels;

    public $tries = 1;

    public function __construct(public int $order)
    {
    }

    public function handle()
    {
        usleep(5000);
        Log::error('order processed', ['order' => $this->order]);
        if ($this->order === 666) {
            throw new \DomainException('order 666 cannot be processed');
        }
    }
}
