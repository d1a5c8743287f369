"""`python manage.py discord_gateway`: the Procfile's `discord` process.

One process serves every active Discord connection: one Gateway websocket per bot token,
with heartbeats, resume and reconnects. Direct messages, and server messages that mention
the bot, are stored like any webhook message; the AI turn and the reply run in the worker.
"""

import asyncio
import signal

from django.core.management.base import BaseCommand

from channels_gateway.discord_gateway import GatewaySupervisor


class Command(BaseCommand):
    help = "Hold the Discord Gateway open for every active Discord connection (DMs and mentions)."

    def add_arguments(self, parser):
        parser.add_argument("--refresh", type=float, default=60.0,
                            help="Seconds between re-reading the Discord connections (default 60).")
        parser.add_argument("--include-demo", action="store_true",
                            help="Also connect seed_demo's Discord connection (its token is made up).")

    def handle(self, *args, **options):
        supervisor = GatewaySupervisor(refresh=options["refresh"], include_demo=options["include_demo"])
        asyncio.run(self._serve(supervisor))

    async def _serve(self, supervisor: GatewaySupervisor) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop.set)
            except (NotImplementedError, RuntimeError):  # not on the main thread / platform
                pass
        self.stdout.write("Discord gateway worker started.")
        await supervisor.run(stop)
        self.stdout.write("Discord gateway worker stopped.")
