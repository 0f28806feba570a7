// kaas: the command-line client of kaasd.

#include "kaas/cli/cli.h"

int main(int argc, char** argv) { return kaas::cli::Main(argc, argv); }
