"""The `marketing` command (SPEC 4.6); `main` assembles the sub-commands of the modules beside it."""
