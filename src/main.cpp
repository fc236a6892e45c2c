// arus-proxy entry point (placeholder until the wiring lands).
int main() { return 0; }
