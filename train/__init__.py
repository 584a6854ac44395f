"""Training for filmcolor's networks: ``python -m train --data DIR ...``."""
