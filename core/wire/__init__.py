"""DynamoDB on the wire: SigV4, the JSON protocol, retry codes and policy, rate control, failures."""
