package dev.winnow.tests.architecture;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The structure docs/ARCHITECTURE.md describes, checked on the compiled classes of every module (tests excluded):
 * the modules depend one way, no two packages depend on each other even through others, and the kernels know
 * nothing but the JDK.
 */
@AnalyzeClasses(packages = "dev.winnow", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureRulesTest {

    /** tensors <- loader <- engine <- cli: a module uses only the modules to its left. */
    @ArchTest
    static final ArchRule modulesDependOneWay = layeredArchitecture().consideringOnlyDependenciesInLayers()
            .layer("tensors").definedBy("dev.winnow.tensors..")
            .layer("loader").definedBy("dev.winnow.gguf..")
            .layer("engine").definedBy("dev.winnow.engine..")
            .layer("cli").definedBy("dev.winnow.cli..")
            .whereLayer("cli").mayNotBeAccessedByAnyLayer()
            .whereLayer("engine").mayOnlyBeAccessedByLayers("cli")
            .whereLayer("loader").mayOnlyBeAccessedByLayers("engine", "cli")
            .whereLayer("tensors").mayOnlyBeAccessedByLayers("loader", "engine", "cli");

    /** No package cycles anywhere, inside a module (engine's model, kv, pruning, ...) or across. */
    @ArchTest
    static final ArchRule packagesFormNoCycles = slices().matching("dev.winnow.(**)").should().beFreeOfCycles();

    /** The kernels use the JDK (the Vector API and foreign memory included) and nothing else. */
    @ArchTest
    static final ArchRule kernelsStandAlone = classes().that().resideInAPackage("dev.winnow.tensors..")
            .should().onlyDependOnClassesThat().resideInAnyPackage("dev.winnow.tensors..", "java..", "jdk.incubator.vector..");
}
