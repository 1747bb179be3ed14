"""Quality assurance: sampling, scorecards, evaluations, surveys, complaints."""
