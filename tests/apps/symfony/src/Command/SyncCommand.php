<?php

namespace App\Command;

use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class SyncCommand extends Command
{
    protected static $defaultName = 'app:sync';
    protected static $defaultDescription = 'Synchronises the blog';

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        usleep(2000);
        $output->writeln('synced');
        return Command::SUCCESS;
    }
}
