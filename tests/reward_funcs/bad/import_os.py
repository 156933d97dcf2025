import os


def reward_function(params):
    return float(len(os.environ))
