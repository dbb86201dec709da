package io.spinstream.lion.roles;

/** The referee's scores of the teacher's and the student's answers to one prompt (1 to 10). */
public record Judgement(double teacher, double student) {

    /** Hard for the student: the teacher is ahead by at least {@code tau}. */
    public boolean hard(double tau) {
        return teacher - student >= tau;
    }
}
