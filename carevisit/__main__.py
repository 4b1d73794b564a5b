from carevisit.cli import main

# Guarded: roster validation spawns worker processes, which import the parent's main module.
if __name__ == "__main__":
    main()
