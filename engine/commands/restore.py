"""`fleetcast restore BACKUP.db [--force]`: put a backup in place of the database (--db).

Registered like the other command modules (`register(subparsers)`, listed in
engine.cli.COMMAND_MODULES); the work is engine.store.transfer.restore_backup.
"""

from __future__ import annotations

from engine.commands import Output

HELP = ("replace the database (--db) with a backup made by `fleetcast backup`: the backup is checked "
        "first, the file it replaces is kept beside it with its -wal and -shm, and the copy is renamed "
        "into place; never while another program has the database open")


def register(subparsers) -> None:
    from engine.cli import add_command

    p = add_command(subparsers, "restore", HELP)
    p.add_argument("backup", metavar="BACKUP.db", help="the backup to restore (a database file)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing database (it is moved aside, with its -wal and -shm, to "
                        "NAME.before-restore-YYYYmmdd-HHMMSS.db)")
    p.set_defaults(handler=run)


def run(args, ctx) -> Output:
    """Restore without opening the database at --db: an open replays the -wal beside it, which
    may be another database's, into the file being replaced."""
    from engine.store.transfer import restore_backup

    ctx.unsaved = "nothing was restored"
    summary = restore_backup(args.backup, ctx.db_path, force=args.force)
    ctx.saved = f"the backup was restored to {summary.target}"
    data = summary.as_dict()
    return Output(data=data, rows=[data] if args.format == "csv" else [], text=summary.text())
