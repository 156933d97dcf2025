"""The fleet: spot GPU capacity (launch template, Auto Scaling group, IAM), the external
watchdog, SSH inspection of instances, and progress (status table, HTML report).

Everything that talks to AWS takes an ``AwsClients`` so tests point it at a local server;
the watchdog's decisions (``watchdog.decide``) are pure and touch nothing.
"""
