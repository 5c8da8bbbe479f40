from .cli import main

main(prog_name="cuda2npu")
