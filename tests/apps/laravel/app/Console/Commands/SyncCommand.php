<?php

namespace App\Console\Commands;

use App\Jobs\ProcessOrder;
use Illuminate\Console\Command;
use Illuminate\Support\Facades\Log;

class SyncCommand extends Command
{
    protected $signature = 'app:sync';

    protected $description = 'Synchronises orders and queues their processing';

    public function handle()
    {
        Log::error('sync started', ['batch' => 7]);
        ProcessOrder::dispatch(101);
        ProcessOrder::dispatch(102);
        $this->info('queued 2 orders');
        return 0;
    }
}
