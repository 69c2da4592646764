"""``python -m lite_decluster.cli``: the same as the ``lite-decluster`` command."""

from lite_decluster.cli import main

main()
