"""``python -m lite_decluster``: the same as the ``lite-decluster`` command."""

from lite_decluster.cli import main

main()
