"""What the lab starts on this machine: the emulator and proxy, DynamoDB Local, LocalStack, moto."""
