<?php
/* Monolog 3's logger API, reduced to what the agents hook: levels are the
 * Monolog\Level enum, addRecord() takes one, handlers are pushed. The path
 * ends in Monolog/Logger.php, which is how Monolog is detected. */
namespace Monolog;

enum Level: int
{
    case Debug = 100;
    case Info = 200;
    case Notice = 250;
    case Warning = 300;
    case Error = 400;
    case Critical = 500;
    case Alert = 550;
    case Emergency = 600;
}

class Logger
{
    public const API = 3;

    private array $handlers = [];

    public function __construct(private string $name)
    {
    }

    public function pushHandler(callable $handler): static
    {
        array_unshift($this->handlers, $handler);
        return $this;
    }

    public function addRecord(int|Level $level, string $message, array $context = [], ?\DateTimeImmutable $datetime = null): bool
    {
        $level = $level instanceof Level ? $level : Level::from($level);
        foreach ($this->handlers as $h) {
            $h($this->name . '.' . strtoupper($level->name) . ': ' . $message);
        }
        return true;
    }

    public function warning(string $message, array $context = []): void
    {
        $this->addRecord(Level::Warning, $message, $context);
    }

    public function critical(string $message, array $context = []): void
    {
        $this->addRecord(Level::Critical, $message, $context);
    }

    public function info(string $message, array $context = []): void
    {
        $this->addRecord(Level::Info, $message, $context);
    }
}
